"""Backbones: any timm model as a feature extractor, with a small stem (ResNet 3x3 stem, ViT 4 px patches) for
32-64 px images."""

from zoo.backbones.timm_backbones import create_backbone, is_vit, list_backbones, timm_name

__all__ = ["create_backbone", "is_vit", "list_backbones", "timm_name"]
