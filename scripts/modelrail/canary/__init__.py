"""Canary analysis and canary runs: the `analysis:` section, Prometheus looks judged by a
statistical judge, the loop that drives a Rollout step by step, the baseline, the Argo
AnalysisTemplate export and the reports.
"""
