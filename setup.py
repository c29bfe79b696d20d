"""Distribution ``aitl-reid``: the ``aitl_reid`` torchreid plugin, in the src layout ``plugin/``."""
from setuptools import find_packages, setup

setup(
    name="aitl-reid",
    version="0.1.0",
    description=(
        "Attribute-aware Identity-hard Triplet Loss and attribute-driven spatio-temporal attention "
        "for video person re-identification, as a torchreid plugin"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    package_dir={"": "plugin"},
    packages=find_packages("plugin"),
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.0",
        "torchvision",
        "torchreid",
        "yacs",
        "numpy",
        "opencv-python",
        "pillow",
        "gdown",
        "scipy",
        "tensorboard",
        "matplotlib",
        "tqdm",
        "PyYAML",
    ],
    extras_require={"test": ["pytest", "hypothesis"]},
    entry_points={"console_scripts": ["aitl-reid-train = aitl_reid.train:main"]},
)
