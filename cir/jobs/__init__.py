"""One module per kind of DAG job that assembles package parts (training, the step benchmark)."""
