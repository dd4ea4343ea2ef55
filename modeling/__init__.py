"""Model code (installed as `sign_translation.modeling`). Flat on purpose: these files travel with checkpoints."""
