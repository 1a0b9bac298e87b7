"""The MLflow model registry side of modelrail: the `model`/`registry:`/`image:` sections,
the client, registration with lineage, promotion and rollback, the champion, image metadata.
"""
