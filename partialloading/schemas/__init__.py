"""JSON Schemas of the instance and solution file formats (version 1)."""
