#!/usr/bin/python3
"""predict_data.py — data for bench/bench_predict.sh.

  predict_data.py DIR    write DIR/images/<breed>_<k>.jpg (12 images of 3 pet breeds with
                         long names, 300x260) and DIR/one.jpg (one 224x224 JPEG), from a
                         fixed seed.
"""
import os
import random
import sys

from PIL import Image, ImageDraw


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    os.makedirs(os.path.join(d, "images"), exist_ok=True)
    rnd = random.Random(0)
    names = ["american_pit_bull_terrier", "staffordshire_bull_terrier", "english_cocker_spaniel"]
    for k, n in enumerate(names):
        for i in range(4):
            im = Image.new("RGB", (300, 260), tuple(rnd.randrange(256) for _ in range(3)))
            dr = ImageDraw.Draw(im)
            for _ in range(4):
                x, y = rnd.randrange(250), rnd.randrange(200)
                dr.ellipse((x, y, x + 40 + 10 * k, y + 40), fill=(80 * k, 255 - 80 * k, 128))
            im.save(os.path.join(d, "images", f"{n}_{i + 1}.jpg"), quality=90)
    Image.open(os.path.join(d, "images", f"{names[0]}_1.jpg")).resize((224, 224)).save(
        os.path.join(d, "one.jpg"), quality=90)


if __name__ == "__main__":
    main()
