"""Unit tests of the Argo Rollouts driver's pure logic."""
