"""What pydicom (the reference reader) says of a file, for the DICOMweb tests to compare our answers with.

  json <file>               the data set in the DICOM JSON model (PS3.18 F), binary values past 256 bytes as "bulk"
  frame <file> <n>          sha256 of frame n (1-based) as stored: native bytes, or the encapsulated frame
"""
import hashlib
import json
import sys

import pydicom
from pydicom.encaps import generate_pixel_data_frame

mode, path = sys.argv[1], sys.argv[2]
ds = pydicom.dcmread(path)
if mode == "json":
    print(json.dumps(ds.to_json_dict(bulk_data_threshold=256, bulk_data_element_handler=lambda element: "bulk")))
elif mode == "frame":
    n = int(sys.argv[3])
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        frames = generate_pixel_data_frame(ds.PixelData, int(getattr(ds, "NumberOfFrames", 1)))
        data = [f for i, f in enumerate(frames) if i == n - 1][0]
    else:
        length = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
        data = ds.PixelData[(n - 1) * length:n * length]
    print(hashlib.sha256(data).hexdigest())
