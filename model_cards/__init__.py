"""Model card templates (Jinja), rendered by `sign_translation.hub.render_model_card`."""
