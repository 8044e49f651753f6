"""instructrec-jax: recommendation as instruction following, in JAX.

Importing the package is cheap: it imports neither JAX nor TensorFlow. Stages live in
subpackages that read as the pipeline: data -> instructions -> tasks -> models ->
training -> inference -> evaluation.
"""

__version__ = "0.1.0"
