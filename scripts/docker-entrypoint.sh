#!/usr/bin/env bash
# Container entrypoint of the Model Management Standard.
#
# Makes every model found in EXTERNAL_DIR (a mounted volume) available under
# MODELS_DIR by symlinking it there, then execs the container command.
#
#   MODELS_DIR    where the engine looks for models   (default /app/models)
#   EXTERNAL_DIR  mounted directory of extra models   (default /app/external_models)
#   LOG_LEVEL     WARNING / ERROR / CRITICAL (any case; also WARN, FATAL)
#                 print only problems; DEBUG adds detail.
#
# Rules, per visible entry <name> of EXTERNAL_DIR (names starting with "." and
# "lost+found" are ignored, as are entries that are themselves dangling links):
#   * MODELS_DIR/<name> exists (baked-in file/dir, or a live symlink, e.g. from
#     an earlier run)        -> left untouched; baked-in ones are logged as kept.
#   * MODELS_DIR/<name> is a dangling symlink -> replaced by a new link.
#   * otherwise              -> a new symlink is created.
# Dangling symlinks in MODELS_DIR without a matching external entry are left
# alone (reported as warnings). Running the script again changes nothing.
#
# Link targets: both directories are made absolute (relative values are taken
# relative to the current directory; no "."/".." or symlink resolution is done).
# If they have the same parent directory (plain string comparison) the link is
# relative, "../<basename of EXTERNAL_DIR>/<name>", so it stays valid when the
# tree is mounted elsewhere; otherwise it is the absolute "$EXTERNAL_DIR/<name>".
#
# No process is forked per entry: all links are created by one batched `ln`
# (and dangling ones removed by one batched `rm`), both fed NUL-separated names
# through xargs, so any file name (spaces, newlines, leading dashes, unicode)
# works and thousands of entries take a fraction of a second.
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
# (e.g. a newline) so one log line stays one line.
show() {
    if [[ $1 == *[[:cntrl:]]* ]]; then
        printf -v shown '%q' "$1"
    else
        shown=$1
    fi
}

mkdir -p -- "$MODELS_DIR"

shown=''
if [[ ! -d $EXTERNAL_DIR ]]; then
    warn "External models directory $EXTERNAL_DIR is missing or not a directory; skipping linking"
else
    # Relative link prefix when both directories share a parent, unless
    # MODELS_DIR is itself a symlink (the kernel would resolve ".." from its
    # real location) or ends in "." / "..".
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

    new_names=()   # names to link
    targets=()     # their link targets (ln -t names each link by basename)
    dangling=()    # MODELS_DIR paths of dangling links to replace first
    for item in "$EXTERNAL_DIR"/*; do
        name=${item##*/}
        [[ $name == .* || $name == "lost+found" ]] && continue
        show "$name"
        if [[ ! -e $item ]]; then
            warn "Skipping dangling external entry: $shown"
            continue
        fi
        link=$MODELS_DIR/$name
        if [[ -e $link ]]; then
            if [[ -L $link ]]; then
                debug "Already linked: $shown"
            else
                info "Kept baked-in: $shown"
            fi
            continue
        fi
        [[ -L $link ]] && dangling+=("$link")
        new_names+=("$name")
        targets+=("$prefix/$name")
    done

    if ((${#dangling[@]})); then
        printf '%s\0' "${dangling[@]}" | xargs -0 rm -f -- ||
            warn "Could not remove some dangling links"
    fi
    if ((${#targets[@]})); then
        printf '%s\0' "${targets[@]}" | xargs -0 ln -s -t "$MODELS_DIR" -- ||
            warn "Could not create some links"
        declare -A was_dangling=()
        for link in "${dangling[@]}"; do
            was_dangling[$link]=1
        done
        for name in "${new_names[@]}"; do
            link=$MODELS_DIR/$name
            show "$name"
            if [[ ! -L $link ]]; then
                warn "Failed to link: $shown"
            elif [[ -n ${was_dangling[$link]:-} ]]; then
                info "Replaced dangling link: $shown"
            else
                info "Linked: $shown"
            fi
        done
    fi
fi

# Summary: models that are actually reachable under MODELS_DIR.
available=()
for item in "$MODELS_DIR"/*; do
    name=${item##*/}
    [[ $name == .* || $name == "lost+found" ]] && continue
    if [[ -e $item ]]; then
        available+=("$name")
    else
        show "$name"
        warn "Dangling link left untouched: $shown"
    fi
done
info "${#available[@]} models available in $MODELS_DIR"
if ((!quiet)); then
    for name in "${available[@]:0:50}"; do
        show "$name"
        printf '[entrypoint]   %s\n' "$shown"
    done
    ((${#available[@]} <= 50)) || printf '[entrypoint]   ...\n'
fi

if (($#)); then
    exec "$@"
fi
exit 0
