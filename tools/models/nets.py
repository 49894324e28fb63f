"""Network definitions for the qcc test-model zoo (torch side, /usr/bin/python3)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock


def conv_bn(cin, cout, k, stride=1, groups=1, act="relu", dims=2):
    conv = nn.Conv2d if dims == 2 else nn.Conv1d
    bn = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    layers = [conv(cin, cout, k, stride, k // 2, groups=groups, bias=False), bn(cout)]
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    elif act == "hswish":
        layers.append(nn.Hardswish())
    elif act is not None:
        raise ValueError(act)
    return nn.Sequential(*layers)


class LeNetDigits(nn.Module):
    """LeNet-5 style on 1x16x16 digits: conv5-bn-relu-maxpool x2, gemm-relu-gemm.
    Flattens with x.view(x.size(0), -1) so a dynamic-batch export has a shape subgraph."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 5, padding=2)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 5)
        self.b2 = nn.BatchNorm2d(16)
        self.f1 = nn.Linear(16 * 2 * 2, 48)
        self.f2 = nn.Linear(48, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)  # 8x8
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)  # 4x4 -> 2x2
        x = x.view(x.size(0), -1)
        return self.f2(F.relu(self.f1(x)))


class FashionCNN(nn.Module):
    """conv-bn-relu x3 with two maxpools, flatten, linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16, 3),
            conv_bn(16, 32, 3),
            nn.MaxPool2d(2),  # 14
            conv_bn(32, 32, 3),
            nn.MaxPool2d(2),  # 7
        )
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class InvertedResidual(nn.Module):
    """MobileNet-v2 block: 1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear project,
    residual Add when shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn(cin, hid, 1, act="relu6"),
            conv_bn(hid, hid, 3, stride, groups=hid, act="relu6"),
            conv_bn(hid, cout, 1, act=None),
        )

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class FashionMobileNet(nn.Module):
    """Depthwise-separable (v1) blocks with ReLU6, then two v2 inverted-residual blocks."""

    def __init__(self):
        super().__init__()

        def ds(cin, cout, stride):
            return nn.Sequential(
                conv_bn(cin, cin, 3, stride, groups=cin, act="relu6"),
                conv_bn(cin, cout, 1, act="relu6"),
            )

        self.features = nn.Sequential(
            conv_bn(1, 16, 3, act="relu6"),  # 28
            ds(16, 32, 2),  # 14
            ds(32, 32, 1),
            ds(32, 64, 2),  # 7
            InvertedResidual(64, 64, 1, 2),
            InvertedResidual(64, 64, 1, 2),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class FashionResNet(nn.Module):
    """Small ResNet: stem, BasicBlocks with identity skips and strided 1x1-conv downsample."""

    def __init__(self):
        super().__init__()

        def down(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))

        self.stem = conv_bn(1, 16, 3)
        self.layers = nn.Sequential(
            BasicBlock(16, 16),
            BasicBlock(16, 32, 2, down(16, 32)),  # 14
            BasicBlock(32, 32),
            BasicBlock(32, 48, 2, down(32, 48)),  # 7
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(48, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class SqueezeExcite(nn.Module):
    """GlobalAveragePool -> 1x1 conv -> ReLU -> 1x1 conv -> HardSigmoid -> Mul."""

    def __init__(self, c, r=4):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class MBv3Block(nn.Module):
    def __init__(self, cin, hid, cout, k, stride, se):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        layers = [conv_bn(cin, hid, 1, act="hswish"), conv_bn(hid, hid, k, stride, hid, "hswish")]
        if se:
            layers.append(SqueezeExcite(hid))
        layers.append(conv_bn(hid, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class FashionSEHSwish(nn.Module):
    """MobileNetV3-style: hard-swish everywhere, squeeze-excite with hard-sigmoid."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16, 3, 2, act="hswish"),  # 14
            MBv3Block(16, 48, 24, 3, 1, True),
            MBv3Block(24, 72, 32, 5, 2, True),  # 7
            MBv3Block(32, 96, 32, 3, 1, True),
            conv_bn(32, 128, 1, act="hswish"),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class DigitsSpeechDW(nn.Module):
    """DS-CNN keyword-spotting style net in 1-d: input (N, 8 features, 8 frames)."""

    def __init__(self):
        super().__init__()

        def ds(c):
            return nn.Sequential(conv_bn(c, c, 3, groups=c, dims=1), conv_bn(c, c, 1, dims=1))

        self.features = nn.Sequential(
            conv_bn(8, 32, 3, dims=1),
            ds(32),
            ds(32),
            nn.AdaptiveAvgPool1d(1),
        )
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class TinyDetector(nn.Module):
    """YOLO/SSD-style detector on 3x64x64: strided-conv backbone, FPN top-down path with
    nearest Upsample + Add, bilinear Upsample and ConvTranspose2d + Concat, and a shared head
    on two levels split into box / objectness / class tensors (Sigmoid on the last two)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.nc = num_classes
        self.c1 = conv_bn(3, 16, 3, 2)  # 32
        self.c2 = conv_bn(16, 32, 3, 2)  # 16
        self.c3 = conv_bn(32, 48, 3, 2)  # 8
        self.c4 = conv_bn(48, 64, 3, 2)  # 4
        self.lat4 = nn.Conv2d(64, 32, 1)
        self.lat3 = nn.Conv2d(48, 32, 1)
        self.lat2 = nn.Conv2d(32, 16, 1)
        self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_bilinear = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.deconv = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.smooth3 = conv_bn(32, 32, 3)
        self.smooth2 = conv_bn(32 + 16 + 16, 32, 3)
        self.head = nn.Conv2d(32, 4 + 1 + num_classes, 1)

    def split_head(self, p):
        box, obj, cls = torch.split(self.head(p), [4, 1, self.nc], dim=1)
        return box, torch.sigmoid(obj), torch.sigmoid(cls)

    def forward(self, x):
        c2 = self.c2(self.c1(x))
        c3 = self.c3(c2)
        c4 = self.c4(c3)
        p4 = self.lat4(c4)
        p3 = self.smooth3(self.up_nearest(p4) + self.lat3(c3))
        p2 = torch.cat([self.up_bilinear(p3), self.deconv(p3), self.lat2(c2)], dim=1)
        p2 = self.smooth2(p2)
        return self.split_head(p2) + self.split_head(p3)


class MobileNetV1(nn.Module):
    """MobileNet v1 (Howard et al. 2017) with width multiplier alpha, ReLU (as in the paper)."""

    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
        (1024, 2),
        (1024, 1),
    ]

    def __init__(self, alpha=0.5, num_classes=10):
        super().__init__()
        c = int(32 * alpha)
        layers = [conv_bn(3, c, 3, 2)]
        for cout, s in self.CFG:
            cout = int(cout * alpha)
            layers += [conv_bn(c, c, 3, s, groups=c), conv_bn(c, cout, 1)]
            c = cout
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class NarrowResNet18(nn.Module):
    """ResNet-18 topology (7x7/2 stem, 3x3/2 maxpool, [2,2,2,2] BasicBlocks, avgpool, fc)
    with channels (16, 32, 64, 128) instead of (64, 128, 256, 512); uses torchvision's
    BasicBlock."""

    def __init__(self, widths=(16, 32, 64, 128), num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        blocks = []
        cin = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or cin != w:
                down = nn.Sequential(nn.Conv2d(cin, w, 1, stride, bias=False), nn.BatchNorm2d(w))
            blocks += [BasicBlock(cin, w, stride, down), BasicBlock(w, w)]
            cin = w
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))
