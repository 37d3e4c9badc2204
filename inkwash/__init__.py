"""Torch-free plumbing shared by the four packages: the command-line skeleton, atomic writes,
hashing, provenance and the cache folder. It imports nothing of ours, so `study_app` can use it
and stay a leaf that never imports `train`."""
