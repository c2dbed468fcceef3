"""Evaluation stage: metric runs over folders of videos, baselines (gray, Levin et al. 2004) and reports."""
