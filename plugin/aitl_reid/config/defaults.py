"""The default configuration: upstream torchreid's sections and key names, plus this plugin's own.

Section and key names follow torchreid's ``scripts/default_config.py`` so that torchreid users
recognise them; plugin-specific keys live in ``model.asta``, ``attributes``, ``loss.aitl``,
``loss.attribute``, ``synthetic`` and a few added ``train``/``test`` keys.
"""
from __future__ import annotations

from yacs.config import CfgNode as CN


def get_default_config() -> CN:
    """Return a fresh copy of the full default configuration."""
    cfg = CN()
    cfg.use_gpu = True  # train and test on CUDA when a GPU is available

    cfg.model = CN()
    cfg.model.name = "asta_resnet50"  # registered model name (torchreid.models.build_model)
    cfg.model.pretrained = False  # ImageNet weights for the backbone: model.pretrained_path, else torch.hub's cache (downloaded there once); base.yaml turns it on
    cfg.model.pretrained_path = ""  # local .pth file with backbone weights (torchvision or torchreid format)
    cfg.model.load_weights = ""  # checkpoint whose weights are loaded before training/testing
    cfg.model.resume = ""  # checkpoint to resume training from, or "auto": the newest complete one in data.save_dir (fresh start if none)

    cfg.model.asta = CN()
    cfg.model.asta.id_relevant_stream = True  # enable the identity-relevant attribute stream
    cfg.model.asta.id_irrelevant_stream = True  # enable the identity-irrelevant attribute stream
    cfg.model.asta.detach_streams = False  # attribute streams read detached backbone features (released code: True)
    cfg.model.asta.reid_spatial_attention = False  # Re-ID stream's own 3x3 spatial attention (released code: True)
    cfg.model.asta.stream_width = 0  # channels of the size-preserving conv in each stream (0 = backbone width)
    cfg.model.asta.stream_kernel = 1  # kernel size of the size-preserving conv (1 as in the released code)
    cfg.model.asta.spatial_kernel = 3  # kernel size of the spatial attention conv (C -> 1)
    cfg.model.asta.temporal_kernel = 3  # kernel size of the temporal attention conv (odd, same-length output)
    cfg.model.asta.last_stride = 1  # stride of the backbone's last stage (1 gives 16x8 maps at 256x128)
    cfg.model.asta.fuse_attention = True  # attention-weighted copies join the Re-ID feature (False: "Baseline + AITL")
    cfg.model.asta.reid_stream = True  # plain backbone features join the Re-ID feature (False: Table 2 rows without Re-ID)
    cfg.model.asta.test_feature = "after_bn"  # eval-mode output: "after_bn" (BNNeck) or "before_bn"
    cfg.model.asta.attribute_bn = True  # BatchNorm1d before each attribute classifier (released code: ReLU, False)
    cfg.model.asta.attention_norm = True  # standardise attention scores before the sigmoid (released code: False)
    cfg.model.asta.attribute_prior_bias = True  # attribute classifier biases start at the training label prior
    cfg.model.asta.attention_pooling = "normalised"  # attention-weighted "mean" (paper) or "normalised" weighted mean
    cfg.model.asta.detach_fused_attention = False  # only the attribute losses train the attention (Re-ID copies detached)
    cfg.model.asta.temporal_init = "identity"  # temporal attention conv starts as "identity" or "default" (released)
    cfg.model.asta.stem_relu = True  # ReLU after the backbone stem's BatchNorm (released ResNet: False); ASTA and tp_ models
    cfg.model.asta.stream_conv_bias = False  # the streams' size-preserving conv has a bias (released code: True)
    cfg.model.asta.fused_copy_input = "features"  # what stream attention weights for the Re-ID copies: "features" or "reid_attended" (released)
    cfg.model.asta.fused_order = "relevant_first"  # copies after the Re-ID part: "relevant_first" or "irrelevant_first" (released)
    cfg.model.asta.init = "torch"  # attention/attribute layers: "torch" (PyTorch's default) or "released" (He normal, classifiers N(0, 0.001))

    cfg.attributes = CN()
    cfg.attributes.schema = "auto"  # "auto" (detect from the CSV header), "mars_v1", "mars_v2", "duke_v2" or "custom"
    cfg.attributes.csv = ""  # attribute CSV path; empty = the dataset's default location under data.root
    cfg.attributes.custom_names = []  # custom schema: attribute names in CSV column order
    cfg.attributes.custom_classes = []  # custom schema: number of classes per attribute
    cfg.attributes.custom_groups = []  # custom schema: "id_relevant" or "id_irrelevant" per attribute
    cfg.attributes.custom_key_columns = ["person_id", "camera_id", "tracklets_id"]  # custom schema: CSV key columns

    cfg.data = CN()
    cfg.data.type = "video"  # only video data is supported by this plugin
    cfg.data.root = "datasets"  # root folder holding the datasets (aitl-reid-check --layout mars|duke)
    cfg.data.sources = ["mars_attr"]  # training dataset name(s)
    cfg.data.targets = ["mars_attr"]  # test dataset name(s)
    cfg.data.workers = -1  # data loader worker processes; -1: one per core available (at most 8)
    cfg.data.split_id = 0  # split index for datasets with several splits
    cfg.data.height = 256  # frame height after resizing
    cfg.data.width = 128  # frame width after resizing
    cfg.data.combineall = False  # train on train + query + gallery
    cfg.data.transforms = ["random_flip", "pad_crop", "random_erase"]  # clip-consistent training augmentations
    cfg.data.norm_mean = [0.485, 0.456, 0.406]  # per-channel normalisation mean
    cfg.data.norm_std = [0.229, 0.224, 0.225]  # per-channel normalisation std
    cfg.data.save_dir = "log"  # folder for logs, checkpoints, metrics CSV and figures
    cfg.data.query_in_gallery = False  # also append query tracklets to the gallery (released code on Duke)
    cfg.data.on_bad_frame = "error"  # an unreadable training frame: "error" (stop, naming the file) or "skip" (another clip)

    cfg.sampler = CN()
    cfg.sampler.train_sampler = "RandomIdentitySampler"  # torchreid sampler for training batches
    cfg.sampler.num_instances = 4  # K: tracklets per identity in a batch
    cfg.sampler.num_cams = 1  # cameras per batch (RandomDomainSampler)
    cfg.sampler.num_datasets = 1  # datasets per batch (RandomDatasetSampler)
    cfg.sampler.identity_shards = 0  # RandomIdentitySampler: disjoint identity shards per batch (0 = number of processes)

    cfg.video = CN()
    cfg.video.seq_len = 4  # T: frames per clip
    cfg.video.sample_method = "consecutive"  # training clips: "consecutive" (random start) or "random" (released code)
    cfg.video.pooling_method = "avg"  # how clip features of a tracklet are pooled at test time

    cfg.train = CN()
    cfg.train.optim = "adam"  # optimizer: adam, amsgrad, sgd, rmsprop, radam
    cfg.train.lr = 0.0003  # base learning rate
    cfg.train.weight_decay = 5e-4  # weight decay
    cfg.train.max_epoch = 240  # number of training epochs
    cfg.train.start_epoch = 0  # first epoch (set by model.resume)
    cfg.train.batch_size = 32  # tracklets per batch (P x K)
    cfg.train.fixbase_epoch = 0  # epochs training only train.open_layers
    cfg.train.open_layers = ["classifier"]  # layers trained during fixbase epochs
    cfg.train.staged_lr = False  # different lr for new layers
    cfg.train.new_layers = ["classifier"]  # layers using the full lr when staged_lr is on
    cfg.train.base_lr_mult = 0.1  # lr multiplier of the other layers when staged_lr is on
    cfg.train.lr_scheduler = "multi_step"  # single_step, multi_step or cosine
    cfg.train.stepsize = [40, 80, 120]  # epochs at which the lr decays
    cfg.train.gamma = 0.1  # lr decay factor
    cfg.train.warmup_epochs = 10  # linear lr warm-up epochs (0 disables)
    cfg.train.warmup_factor = 0.01  # starting lr fraction of the warm-up
    cfg.train.print_freq = 20  # iterations between log lines
    cfg.train.seed = 1  # random seed
    cfg.train.amp = "off"  # mixed precision on GPU: "off", "bf16" or "fp16"
    cfg.train.grad_clip = 0.0  # max gradient norm (0 disables clipping)
    cfg.train.max_iters_per_epoch = 0  # cap iterations per epoch (0 = whole epoch); for quick runs
    cfg.train.checkpoint_freq = 1  # epochs between checkpoints (evaluated epochs always get one)
    cfg.train.keep_checkpoints = 3  # recent checkpoints of this run kept (0 = all); its best (mAP) and last are never deleted
    cfg.train.existing_run = "refuse"  # a new run in a data.save_dir holding another run: "refuse" (exit 2) or "move_aside" (into <save_dir>/previous-run-<date>/); continue that run with model.resume auto
    cfg.train.deterministic = False  # deterministic algorithms and a fixed thread count: repeatable runs, slower on GPU
    cfg.train.num_threads = 0  # CPU threads for torch (0 = torch's default)
    cfg.train.sync_bn = False  # under torchrun: batch norm statistics over the global batch (SyncBatchNorm)

    cfg.sgd = CN()
    cfg.sgd.momentum = 0.9  # momentum factor
    cfg.sgd.dampening = 0.0  # dampening for momentum
    cfg.sgd.nesterov = False  # Nesterov momentum

    cfg.rmsprop = CN()
    cfg.rmsprop.alpha = 0.99  # smoothing constant

    cfg.adam = CN()
    cfg.adam.beta1 = 0.9  # exponential decay rate for the first moment
    cfg.adam.beta2 = 0.999  # exponential decay rate for the second moment

    cfg.loss = CN()
    cfg.loss.name = "aitl"  # engine loss set: "aitl" (unified loss, Eq. 4)
    cfg.loss.softmax = CN()
    cfg.loss.softmax.label_smooth = True  # label smoothing (epsilon 0.1) in the identity cross-entropy
    cfg.loss.triplet = CN()
    cfg.loss.triplet.margin = 0.3  # batch-hard triplet margin
    cfg.loss.triplet.distance = "cosine"  # batch-hard triplet distance: "cosine" (paper) or "euclidean"
    cfg.loss.triplet.weight_t = 1.0  # weight of the batch-hard triplet loss
    cfg.loss.triplet.weight_x = 1.0  # weight of the identity cross-entropy
    cfg.loss.aitl = CN()
    cfg.loss.aitl.enabled = True  # add the intra-identity triplet term(s)
    cfg.loss.aitl.weight = 1.0  # weight of each intra-identity triplet term
    cfg.loss.aitl.margin = 0.0  # margin of the intra-identity triplet (paper: none)
    cfg.loss.aitl.selection = "attribute"  # positives chosen by predicted "attribute" distance (AITL), "annotated" attributes (oracle), predicted attributes "shuffled" in the batch (placebo) or "feature" distance (ITL)
    cfg.loss.aitl.distance = "cosine"  # feature distance FD: "cosine" (paper, released) or "euclidean"
    cfg.loss.aitl.attribute_distance = "cosine"  # attribute distance AD that chooses the positives: "cosine" (paper) or "euclidean" (released)
    cfg.loss.aitl.attribute_input = "prob"  # attribute vector: "prob" (sigmoid of logits) or "logits" (released)
    cfg.loss.aitl.include_anchor = False  # candidates include the anchor itself (released code)
    cfg.loss.aitl.average_triplets = False  # average batch-hard and AITL terms (released) instead of summing (Eq. 4)
    cfg.loss.attribute = CN()
    cfg.loss.attribute.enabled = True  # train the attribute streams with BCE
    cfg.loss.attribute.weight = 1.0  # weight of the attribute loss
    cfg.loss.attribute.type = "softmax"  # "softmax" (cross-entropy per attribute) or "bce" (one-hot BCE, paper)

    cfg.test = CN()
    cfg.test.batch_size = 64  # clips per forward pass at test time (across tracklets)
    cfg.test.max_clips = 200  # dense clips per tracklet at most (released code: 200)
    cfg.test.dist_metric = "cosine"  # "cosine" or "euclidean"
    cfg.test.normalize_feature = False  # L2-normalise features before the distance
    cfg.test.ranks = [1, 5, 10, 20]  # CMC ranks to report
    cfg.test.evaluate = False  # evaluate only (no training)
    cfg.test.eval_freq = -1  # evaluate every N epochs (-1: only at the end)
    cfg.test.start_eval = 0  # first epoch at which evaluation may run
    cfg.test.rerank = False  # k-reciprocal re-ranking (evaluate only)
    cfg.test.visrank = False  # save ranked-results grids (evaluate only)
    cfg.test.visrank_topk = 10  # gallery tracklets per ranked-results row
    cfg.test.attributes = True  # report attribute recognition accuracy and F1
    cfg.test.backend = "exact"  # CPU test-time forward: "exact" (the model), "fast" (frozen graph, BN folded; same within float rounding) or "bf16"

    cfg.synthetic = CN()
    cfg.synthetic.num_ids = 60  # identities (half train, half test)
    cfg.synthetic.num_cams = 4  # cameras
    cfg.synthetic.tracklets_per_id = 4  # tracklets per identity
    cfg.synthetic.min_frames = 8  # shortest tracklet
    cfg.synthetic.max_frames = 24  # longest tracklet
    cfg.synthetic.height = 128  # rendered frame height
    cfg.synthetic.width = 64  # rendered frame width
    cfg.synthetic.seed = 0  # generator seed
    cfg.synthetic.num_distractors = 4  # distractor tracklets (pid 0) in the gallery
    cfg.synthetic.num_junk = 2  # junk tracklets (pid -1)

    return cfg
