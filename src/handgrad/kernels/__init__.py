"""Array kernels behind the layers: the vectorized ones the layers call and slow loop references for tests."""
