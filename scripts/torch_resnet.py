"""ResNet trunks and MLP heads laid out exactly as stopgrad's (torchvision's parameter names), for
the fixture script and the PyTorch peer comparison. Only scripts import this; the build and the
tests never need PyTorch."""
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return F.relu(out + sc)


class CifarTrunk(nn.Module):
    """torchvision's ResNet-18 layout with the CIFAR stem (3x3/1, no pool), no fc."""

    def __init__(self, width, c_in):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width[0])
        cin = width[0]
        for li, w in enumerate(width):
            blocks = []
            for bi in range(2):
                stride = 2 if (li > 0 and bi == 0) else 1
                blocks.append(BasicBlock(cin, w, stride))
                cin = w
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for li in range(4):
            x = getattr(self, f"layer{li + 1}")(x)
        return x.mean(dim=(2, 3))


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck: stride on the 3x3 conv."""

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, 1, 0, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        sc = x if self.downsample is None else self.downsample(x)
        return F.relu(out + sc)


class ImagenetTrunk(nn.Module):
    """ResNet-18 or -50 with the 7x7/2 stem and 3x3/2 max-pool, no fc."""

    def __init__(self, depth, width, cin):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width[0])
        c = width[0]
        nblocks = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
        for li, w in enumerate(width):
            blocks = []
            for bi in range(nblocks[li]):
                stride = 2 if (li > 0 and bi == 0) else 1
                if depth == 18:
                    blocks.append(BasicBlock(c, w, stride))
                    c = w
                else:
                    blocks.append(Bottleneck(c, w, stride))
                    c = w * 4
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        for li in range(4):
            x = getattr(self, f"layer{li + 1}")(x)
        return x.mean(dim=(2, 3))


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h, affine=False), nn.ReLU(), nn.Linear(h, o))


def head(i, h, o, layers=2, bias=True, affine=False, out_bn=False):
    """stopgrad's MLP head in any of its forms (core/nn/heads.h): `layers` Linears, each hidden
    one followed by BatchNorm1d (affine or not) and ReLU, optionally a BatchNorm1d(o,
    affine=False) on the output (SimSiam's projector). The nn.Sequential indices are stopgrad's
    parameter names; head(i, h, o) is mlp(i, h, o), with the same initialisation draws."""
    mods, cin = [], i
    for _ in range(layers - 1):
        mods += [nn.Linear(cin, h, bias=bias), nn.BatchNorm1d(h, affine=affine), nn.ReLU()]
        cin = h
    mods.append(nn.Linear(cin, o, bias=bias))
    if out_bn:
        mods.append(nn.BatchNorm1d(o, affine=False))
    return nn.Sequential(*mods)
