"""`modelrail local`: a model repository's own workflows on this machine, offline.

act runs the workflows (act.py, with modelrail's pinned third-party actions mapped to the
stand-ins in standins/); a real MLflow server and a GitHub REST stand-in answer them
(session.py); workbench.py plays a pull request, a push and a dispatch; workflows.py finds
the repository's workflow for each and checks dispatch inputs as GitHub does. The test
suite and `make demo` run the same code.
"""
