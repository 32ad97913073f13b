"""Helpers the torch engines share (xtts, chatterbox): speaker samples, the torchaudio fix,
baking a catalog model into an image and the test models' vocabulary. They run in an engine's
own environment, which has torch, torchaudio and soundfile; nothing else in enginekit imports
them."""
