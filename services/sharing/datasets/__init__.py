"""Agency datasets as declarations: a record model, a key and a mapping to a canonical fact."""
