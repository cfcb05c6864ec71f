"""Networks: the Jin et al. (CVPR 2018) cascade and its blocks, the Nah et al. (2017) baseline, and a
small U-Net that predicts all frames at once."""

from blur2vid.models.blocks import (
    ColourFusion,
    FuseBlock,
    PreActResBlock,
    ResamplingConv,
    ResidualTrunk,
    count_parameters,
    crop_to,
    make_stage_plan,
    pad_to_multiple,
)
from blur2vid.models.discriminator import PatchDiscriminator, adversarial_losses
from blur2vid.models.hypercut import HyperCUT, HyperCUTConfig, Hyperplane, OrderEmbedding
from blur2vid.models.jin import STAGES, FrameNet, JinCascade, JinConfig, MiddleNet
from blur2vid.models.nah import NahConfig, NahMultiScale
from blur2vid.models.unet import SequenceUNet, UNetConfig
from blur2vid.models.vgg import VGG16Features, load_vgg16_features

__all__ = [
    "ColourFusion",
    "FuseBlock",
    "PreActResBlock",
    "ResamplingConv",
    "ResidualTrunk",
    "count_parameters",
    "crop_to",
    "make_stage_plan",
    "pad_to_multiple",
    "STAGES",
    "FrameNet",
    "JinCascade",
    "JinConfig",
    "MiddleNet",
    "NahConfig",
    "NahMultiScale",
    "SequenceUNet",
    "UNetConfig",
    "PatchDiscriminator",
    "adversarial_losses",
    "VGG16Features",
    "load_vgg16_features",
    "HyperCUT",
    "HyperCUTConfig",
    "Hyperplane",
    "OrderEmbedding",
]
