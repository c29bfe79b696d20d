import cv2
import numpy as np
import pytest

from aitl_reid.data.image_io import FrameReadError, read_frame, read_frames


@pytest.fixture
def jpeg(tmp_path):
    path = tmp_path / "0001C1T0001F001.jpg"
    image = np.zeros((32, 16, 3), dtype=np.uint8)
    image[..., 2] = 255  # red in OpenCV's BGR order
    cv2.imwrite(str(path), image)
    return path


def test_frame_is_decoded_as_rgb_uint8_channels_first(jpeg):
    frame = read_frame(str(jpeg))
    assert frame.shape == (3, 32, 16) and frame.dtype.is_floating_point is False
    assert frame[0].float().mean() > 250 and frame[2].float().mean() < 5


def test_missing_frame_raises_an_os_error_naming_the_file(tmp_path):
    path = str(tmp_path / "absent.jpg")
    with pytest.raises(OSError, match=f"cannot read frame {path}"):
        read_frame(path)


def test_truncated_jpeg_error_names_the_file_instead_of_retrying(jpeg):
    jpeg.write_bytes(jpeg.read_bytes()[:-40])
    with pytest.raises(FrameReadError, match=f"frame {jpeg} is a truncated JPEG"):
        read_frame(str(jpeg))


def test_corrupt_file_error_names_the_file(jpeg):
    jpeg.write_bytes(b"not an image at all" * 10)
    with pytest.raises(FrameReadError, match=f"frame {jpeg} is corrupt"):
        read_frame(str(jpeg))


def test_empty_file_error_names_the_file(jpeg):
    jpeg.write_bytes(b"")
    with pytest.raises(FrameReadError, match=f"frame {jpeg} is empty"):
        read_frame(str(jpeg))


def test_repeated_indices_are_decoded_once_and_kept_in_order(jpeg, tmp_path):
    other = tmp_path / "other.jpg"
    cv2.imwrite(str(other), np.zeros((32, 16, 3), dtype=np.uint8))
    frames = read_frames([str(jpeg), str(other)], np.array([0, 1, 0, 0]))
    assert frames[0] is frames[2] is frames[3]
    assert frames[1] is not frames[0]
