"""train: data, models, losses and the training loop for GAN-driven apparel patterns."""
