"""SignTranslationProcessor (video processor + tokenizer) and the Trainer collator."""

import numpy as np
import pytest
import torch

from sign_translation import SignInputError
from sign_translation.processing import SignTranslationCollator, SignTranslationProcessor, SignVideoProcessor
from sign_translation.tokenization import train_mbart_tokenizer

SENTENCES = [
    "tomorrow it will rain in the north",
    "today it is sunny in the south",
    "there will be no strong wind tonight",
    "on the weekend it snows in the mountains",
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_mbart_tokenizer(SENTENCES * 4, vocab_size=80)


@pytest.fixture()
def processor(tokenizer):
    return SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28), tokenizer)


def clip(t: int, value: int = 100) -> np.ndarray:
    return np.full((t, 36, 36, 3), value, np.uint8)


def test_videos_and_text(processor, tokenizer):
    batch = processor(videos=[clip(9), clip(5)], text=[SENTENCES[0], "sunny"])
    assert batch["pixel_values_videos"].shape == (2, 9, 3, 28, 28)
    assert batch["video_mask"].sum(1).tolist() == [9, 5]
    labels = batch["labels"]
    expected = tokenizer(text_target=SENTENCES[0])["input_ids"]
    assert labels[0].tolist()[: len(expected)] == expected
    short = tokenizer(text_target="sunny")["input_ids"]
    assert labels[1, : len(short)].tolist() == short and (labels[1, len(short) :] == -100).all()
    assert tokenizer.eos_token_id in labels[1].tolist()


def test_decode_forwards_to_tokenizer(processor):
    labels = processor(text=SENTENCES[:2])["labels"]
    ids = torch.where(labels == -100, processor.tokenizer.pad_token_id, labels)
    assert processor.batch_decode(ids, skip_special_tokens=True) == SENTENCES[:2]
    assert processor.decode(ids[0], skip_special_tokens=True) == SENTENCES[0]


def test_text_as_inputs_for_pretraining(processor):
    batch = processor(text=SENTENCES[:3], text_as="both")
    assert set(batch) == {"labels", "input_ids", "attention_mask"}
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert (batch["attention_mask"].sum(1) == (batch["labels"] != -100).sum(1)).all()


def test_eos_appended_for_tokenizers_without_one(processor):
    class NoEos:  # behaves like a decoder-only tokenizer: no EOS added, pad == eos
        eos_token_id = 7
        pad_token_id = 7

        def __call__(self, text_target, **kwargs):
            return {"input_ids": [[3 + i for i in range(len(t.split()))] for t in text_target]}

    processor.tokenizer = NoEos()
    labels = processor.tokenize_targets(["a b c", "a"])
    assert labels.tolist() == [[3, 4, 5, 7], [3, 7, -100, -100]]


def test_mismatched_batch_and_bad_text(processor):
    with pytest.raises(SignInputError, match="2 videos but 1 sentences"):
        processor(videos=[clip(3), clip(3)], text=["one"])
    with pytest.raises(SignInputError, match=r"text\[1\]"):
        processor(text=["ok", None])
    with pytest.raises(SignInputError, match="pass `videos`, `text` or both"):
        processor()


def test_save_load_round_trip(processor, tmp_path):
    processor.video_processor.frame_stride = 4
    processor.save_pretrained(tmp_path)
    loaded = SignTranslationProcessor.from_pretrained(tmp_path)
    assert loaded.video_processor.to_dict() == processor.video_processor.to_dict()
    assert loaded.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    a = processor(videos=[clip(12)], text=[SENTENCES[1]])
    b = loaded(videos=[clip(12)], text=[SENTENCES[1]])
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["video_mask"].sum() == 3  # the saved frame_stride travels with the processor


def test_collator_decodes_pads_and_switches_augmentation(processor, real_videos):
    rows = [
        {"name": "a", "video": str(real_videos["SOUP.mp4"]), "text": SENTENCES[0]},
        {"name": "b", "video": {"path": str(real_videos["video.mp4"])}, "text": SENTENCES[1]},
    ]
    collator = SignTranslationCollator(processor, video_kwargs={"frame_stride": 2})
    batch = collator(rows)
    assert set(batch) == {"pixel_values_videos", "video_mask", "labels"}
    assert batch["video_mask"].sum(1).tolist() == [21, 5]
    again = collator(rows)
    assert torch.equal(batch["pixel_values_videos"], again["pixel_values_videos"])  # eval: deterministic
    collator.training = True
    torch.manual_seed(0)
    augmented = collator(rows)
    assert not torch.equal(augmented["pixel_values_videos"], batch["pixel_values_videos"])


def test_collator_errors_name_the_column(processor):
    collator = SignTranslationCollator(processor)
    with pytest.raises(SignInputError, match="remove_unused_columns=False"):
        collator([{"pixel_values": 1}])
    with pytest.raises(SignInputError, match="'video'.*int"):
        collator([{"video": 5, "text": "x"}])
