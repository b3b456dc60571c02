"""A script test: run by the image's test runner with the science environment's Python."""
import numpy as np

m = np.array([[2.0, 1.0], [1.0, 3.0]])
x = np.linalg.solve(m, np.array([3.0, 5.0]))
assert np.allclose(m @ x, [3.0, 5.0]), x
print("solved", x)
