"""Folders and set-up shared by the scripts in this folder.

NITRO_EPOCH1_WORK  work folder for every output (default /tmp/nitro-epoch1)
NITRO_D_DIR        the NITRO-D authors' code: a folder with their lib/ (default $NITRO_EPOCH1_WORK/nitro-d)
archsim's project root is two folders above this one.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARCHSIM_ROOT = HERE.parents[1]
WORKLOAD = ARCHSIM_ROOT / "workloads" / "mlp2_nitro.yaml"
WORK = Path(os.environ.get("NITRO_EPOCH1_WORK", "/tmp/nitro-epoch1"))
NITRO_D_DIR = Path(os.environ.get("NITRO_D_DIR", WORK / "nitro-d"))
#: the 7 weight tensors of the MLP, in the order the authors' code creates them
LAYERS = ["fc1", "fc1_head", "fc2", "fc2_head", "fc3", "fc3_head", "out"]


def archsim_side():
    """Import archsim from this checkout, with its training cache in the work folder (not the user's)."""
    os.environ.setdefault("ARCHSIM_CACHE", str(WORK / "cache"))
    sys.path.insert(0, str(ARCHSIM_ROOT))


def authors_side():
    """Make the authors' lib and our stand-ins for torchvision and cupy importable; plots off-screen."""
    sys.path[:0] = [str(NITRO_D_DIR), str(HERE / "stubs")]
    os.environ.setdefault("MPLBACKEND", "Agg")
