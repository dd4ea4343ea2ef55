"""Dataset loaders (PHOENIX14T, CSL-Daily, How2Sign, generic files) and the synthetic sign language corpus."""
