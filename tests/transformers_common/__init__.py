"""transformers' common model / config / generation tests, re-written for video-input models (see NOTICE)."""
