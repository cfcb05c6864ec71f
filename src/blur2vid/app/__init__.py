"""The deblurring tool: `predict`, training recipes, measuring and shipping a model, widgets."""
