"""Production monitoring: drift of features and predictions against the training
reference, performance from late labels, the shadow comparison, and their reports and
GitHub issue.
"""
