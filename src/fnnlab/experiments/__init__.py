"""Experiments that re-run the claims of the reference notes, each returning tidy DataFrames."""
