"""Backbones: any timm model as a feature extractor, with a small stem for 32-64 px images."""

from zoo.backbones.timm_backbones import create_backbone, list_backbones

__all__ = ["create_backbone", "list_backbones"]
