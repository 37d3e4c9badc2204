"""evalkit: metrics (IS, FID, KID, MS-SSIM), timing and model comparison."""
