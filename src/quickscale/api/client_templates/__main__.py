"""``python -m quickscale.api.client_templates`` prints the templates' directory."""

from quickscale.api.client_templates import PATH

print(PATH)
