"""The default field mapping: one YAML file per entity (format in `octane_sync.mapping`)."""
