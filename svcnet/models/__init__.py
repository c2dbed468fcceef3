"""Networks of SVCNet in the official module/key layout (one network per file): CPNet, PWC-Net, VGG16 features
here; SSNet and its parts in ``ssnet``, ``warn``, ``corrnet``, ``combination``, ``srnet``;
checkpoint I/O in ``checkpoint``."""

from svcnet.models.checkpoint import load_official, load_state_dict_file, save_official
from svcnet.models.cpnet import CPNet
from svcnet.models.pwcnet import PWCNet, pwc_estimate
from svcnet.models.vgg import VGGFeaNet

__all__ = ["CPNet", "PWCNet", "VGGFeaNet", "load_official", "load_state_dict_file", "pwc_estimate", "save_official"]
