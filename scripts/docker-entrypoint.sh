#!/usr/bin/env bash
# Container entrypoint of the Model Management Standard.
#
# Makes every model found in EXTERNAL_DIR (a mounted volume) available under
# MODELS_DIR by symlinking it there, then execs the container command
# (`exec "$@"`); with no command it exits 0 after linking.
#
#   MODELS_DIR    where the engine looks for models   (default /app/models)
#   EXTERNAL_DIR  mounted directory of extra models   (default /app/external_models)
#   LOG_LEVEL     WARNING / ERROR / CRITICAL (any case; also WARN, FATAL):
#                 print only problems; DEBUG also logs the link-target prefix.
#
# Trailing slashes are stripped from both directories. Values are expected to
# be absolute; a relative one is taken relative to the current directory
# (no "."/".." or symlink resolution is done).
#
# Rules, per visible entry <name> of EXTERNAL_DIR (names starting with "." and
# "lost+found" are ignored, as are entries that are themselves dangling links;
# the same rule as RESERVED_NAMES in src/enginekit/store/names.py):
#   * MODELS_DIR/<name> exists (baked-in file/dir, or a live symlink, e.g. from
#     an earlier run)        -> left untouched; baked-in ones are logged as kept.
#   * MODELS_DIR/<name> is a dangling symlink -> replaced by a new link.
#   * otherwise              -> a new symlink is created.
# Dangling symlinks in MODELS_DIR without a matching external entry are left
# alone (reported as warnings). Running the script again changes nothing.
# If EXTERNAL_DIR is not a directory, linking is skipped with a warning.
#
# Link targets: if both directories have the same parent directory (plain
# string comparison of "${dir%/*}") the link is relative,
# "../<basename of EXTERNAL_DIR>/<name>", so it stays valid when the tree is
# mounted elsewhere; otherwise (or when MODELS_DIR is itself a symlink) it is
# the absolute "$EXTERNAL_DIR/<name>".
#
# Logging: "[entrypoint] ..." lines; progress (Kept baked-in / Replaced
# dangling link / Linked, and a summary "<N> models available in <MODELS_DIR>"
# with up to 50 names, then "...") on stdout, problems ("WARNING: ...") on
# stderr. N counts the visible entries of MODELS_DIR that resolve. Names with
# control characters (e.g. newlines) are logged shell-quoted, $'a\nb'.
#
# No process is forked per entry: all links are created by one batched `ln`
# (and dangling ones removed by one batched `rm`), both fed NUL-separated names
# through xargs, so any file name (spaces, newlines, leading dashes, unicode)
# works and 10,000 entries take a fraction of a second.
set -euo pipefail
shopt -s nullglob extglob

MODELS_DIR=${MODELS_DIR:-/app/models}
EXTERNAL_DIR=${EXTERNAL_DIR:-/app/external_models}

# Strip trailing slashes ("/" stays "/") and make absolute.
MODELS_DIR=${MODELS_DIR%%+(/)}
MODELS_DIR=${MODELS_DIR:-/}
EXTERNAL_DIR=${EXTERNAL_DIR%%+(/)}
EXTERNAL_DIR=${EXTERNAL_DIR:-/}
[[ $MODELS_DIR == /* ]] || MODELS_DIR=$PWD/$MODELS_DIR
[[ $EXTERNAL_DIR == /* ]] || EXTERNAL_DIR=$PWD/$EXTERNAL_DIR

level=${LOG_LEVEL:-INFO}
level=${level^^}
quiet=0
case $level in
    WARN | WARNING | ERROR | CRITICAL | FATAL) quiet=1 ;;
    *) ;;
esac

info() {
    ((quiet)) || printf '[entrypoint] %s\n' "$*"
}
debug() {
    [[ $level == DEBUG ]] || return 0
    printf '[entrypoint] %s\n' "$*"
}
warn() {
    printf '[entrypoint] WARNING: %s\n' "$*" >&2
}
# show NAME: sets $shown to NAME, shell-quoted if it has control characters
# (e.g. a newline) so that one log line stays one line.
show() {
    if [[ $1 == *[[:cntrl:]]* ]]; then
        printf -v shown '%q' "$1"
    else
        shown=$1
    fi
}
# log_names FORMAT NAME...: one info line per NAME, printed with one builtin
# printf call unless some name needs quoting. FORMAT is always a literal of
# this script with a single %s.
log_names() {
    local format=$1 name
    shift
    ((quiet || $# == 0)) && return 0
    if [[ $* == *[[:cntrl:]]* ]]; then
        for name; do
            show "$name"
            # shellcheck disable=SC2059 # literal format, see above
            printf "$format" "$shown"
        done
    else
        # shellcheck disable=SC2059 # literal format, see above
        printf "$format" "$@"
    fi
}

mkdir -p -- "$MODELS_DIR"

# What MODELS_DIR holds before linking, by name: b = real (baked-in) entry,
# l = live symlink, d = dangling symlink. One glob instead of a stat of
# MODELS_DIR/<name> per external entry; a fresh MODELS_DIR costs nothing.
declare -A state=()
dangling=() # names of dangling links found in MODELS_DIR
skip=$((${#MODELS_DIR} + 1)) # ${item:skip} strips "$MODELS_DIR/" (cheaper than ##*/)
for item in "$MODELS_DIR"/*; do
    name=${item:skip}
    [[ $name == .* || $name == "lost+found" ]] && continue
    if [[ ! -L $item ]]; then
        state[$name]=b
    elif [[ -e $item ]]; then
        state[$name]=l
    else
        state[$name]=d
        dangling+=("$name")
    fi
done
alive=$((${#state[@]} - ${#dangling[@]})) # resolving entries before linking
created=0                                  # links made by this run

shown=''
if [[ ! -d $EXTERNAL_DIR ]]; then
    warn "External models directory $EXTERNAL_DIR is missing or not a directory; skipping linking"
else
    # Relative link prefix when both directories share a parent, unless
    # MODELS_DIR is itself a symlink (the kernel would resolve ".." from its
    # real location) or either ends in "." / "..".
    models_base=${MODELS_DIR##*/}
    external_base=${EXTERNAL_DIR##*/}
    if [[ ${MODELS_DIR%/*} == "${EXTERNAL_DIR%/*}" && ! -L $MODELS_DIR &&
        $models_base != . && $models_base != .. &&
        $external_base != . && $external_base != .. ]]; then
        prefix="../$external_base"
    else
        prefix=$EXTERNAL_DIR
    fi
    debug "Link target prefix: $prefix"

    kept=()     # baked-in entries that shadow an external one
    replaced=() # names whose dangling link in MODELS_DIR gets replaced
    fresh=()    # names that get a new link
    targets=()  # link targets of replaced + fresh (ln -t names links by basename)
    skip=$((${#EXTERNAL_DIR} + 1))
    for item in "$EXTERNAL_DIR"/*; do
        name=${item:skip}
        [[ $name == .* || $name == "lost+found" ]] && continue
        if [[ ! -e $item ]]; then
            show "$name"
            warn "Skipping dangling external entry: $shown"
            continue
        fi
        case ${state[$name]-} in
            b) # baked-in wins
                kept+=("$name")
                continue
                ;;
            l) # live link (earlier run or user-made): leave it
                continue
                ;;
            d)
                replaced+=("$name")
                state[$name]=r
                ;;
            *) fresh+=("$name") ;;
        esac
        targets+=("$prefix/$name")
    done
    log_names '[entrypoint] Kept baked-in: %s\n' "${kept[@]}"

    if ((${#replaced[@]})); then
        # Subshell in MODELS_DIR so the names go out in one printf call.
        (cd -- "$MODELS_DIR" && printf '%s\0' "${replaced[@]}" | xargs -0 rm -f --) ||
            warn "Could not remove some dangling links"
    fi
    if ((${#targets[@]})); then
        if printf '%s\0' "${targets[@]}" | xargs -0 ln -s -t "$MODELS_DIR" --; then
            created=${#targets[@]}
            log_names '[entrypoint] Replaced dangling link: %s\n' "${replaced[@]}"
            log_names '[entrypoint] Linked: %s\n' "${fresh[@]}"
        else
            warn "Could not create some links"
            i=0
            for name in "${replaced[@]}" "${fresh[@]}"; do
                show "$name"
                if [[ ! -e $MODELS_DIR/$name ]]; then
                    warn "Failed to link: $shown"
                    state[$name]=f
                elif ((i < ${#replaced[@]})); then
                    info "Replaced dangling link: $shown"
                    created=$((created + 1))
                else
                    info "Linked: $shown"
                    created=$((created + 1))
                fi
                i=$((i + 1))
            done
        fi
    fi
fi

# Summary: visible entries of MODELS_DIR that resolve. Dangling links without
# an external entry are left alone and reported, not counted.
for name in "${dangling[@]}"; do
    if [[ ${state[$name]} == d ]]; then
        show "$name"
        warn "Dangling link left untouched: $shown"
    fi
done
count=$((alive + created))
info "$count models available in $MODELS_DIR"
if ((!quiet && count)); then
    listed=()
    skip=$((${#MODELS_DIR} + 1))
    for item in "$MODELS_DIR"/*; do
        name=${item:skip}
        [[ $name == .* || $name == "lost+found" ]] && continue
        case ${state[$name]-} in
            d | f) continue ;; # dangling / failed link
            *) ;;
        esac
        listed+=("$name")
        ((${#listed[@]} < 50)) || break
    done
    log_names '[entrypoint]   %s\n' "${listed[@]}"
    ((count <= 50)) || printf '[entrypoint]   ...\n'
fi

if (($#)); then
    exec "$@"
fi
exit 0
