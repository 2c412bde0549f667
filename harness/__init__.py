"""RML-LAMA evaluation harness: attribution, localizers, models, tasks and runs."""
