"""digitpad's trainer: MNIST data, the model zoo, the training loop and checkpoints (no Qt)."""

__version__ = "0.1.0"
