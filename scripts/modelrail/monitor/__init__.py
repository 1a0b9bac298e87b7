"""Production monitoring: drift of features and predictions against the training
reference, performance from late labels, and the shadow comparison."""
