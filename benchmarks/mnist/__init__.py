"""MNIST benchmark: one class-conditional UNet, feature-space FID, NFE curve, guidance, bpd."""
