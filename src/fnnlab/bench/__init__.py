"""The method comparison: protocol, grids, runner (local / dask / ray), result
store and statistics."""
