# IAM roles for service accounts. Each trust policy is pinned to
# system:serviceaccount:<namespace>:<sa> (sub) and sts.amazonaws.com (aud). Permissions name the exact
# bucket prefixes, KMS keys, secrets and database users each workload needs:
#
#   dagster        (sa: dagster, dagster-user-code)  rw landing/ bronze/ silver/ gold/ quarantine/ dagster/compute-logs/,
#                                                    read deid key + Redis token, db user dagster
#   ray-train      (sa: ray-train)                   read gold/, rw mlflow-artifacts/
#   mlflow         (sa: mlflow)                      rw mlflow-artifacts/, db user mlflow
#   bento-serving  (sa: bento-serving)               read mlflow-artifacts/ (image pulls use the node role)
#   feast          (sa: feast)                       read gold/, read Redis token, db user feast

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  bucket     = var.lakehouse_bucket_arn
  s3_via     = "s3.${local.region}.amazonaws.com"
  sm_via     = "secretsmanager.${local.region}.amazonaws.com"
  dbuser_arn = "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${var.rds_resource_id}"

  roles = {
    dagster       = ["dagster", "dagster-user-code"]
    ray-train     = ["ray-train"]
    mlflow        = ["mlflow"]
    bento-serving = ["bento-serving"]
    feast         = ["feast"]
  }
}

data "aws_iam_policy_document" "assume" {
  for_each = local.roles

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer_host}:sub"
      values   = [for sa in each.value : "system:serviceaccount:${var.namespace}:${sa}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${var.name_prefix}-${each.key}"
  description          = "IRSA for ${join(", ", [for sa in each.value : "${var.namespace}/${sa}"])}"
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  max_session_duration = 3600
}

# ---------------------------------------------------------------- dagster

data "aws_iam_policy_document" "dagster" {
  statement {
    sid       = "ListPipelinePrefixes"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for p in var.pipeline_prefixes : [p, "${p}*"]])
    }
  }

  statement {
    sid = "ReadWritePipelinePrefixes"
    actions = [
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
      "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    ]
    resources = [for p in var.pipeline_prefixes : "${local.bucket}/${p}*"]
  }

  # S3ComputeLogManager (dagster.yaml compute_logs: prefix dagster/compute-logs): uploads step stdout/stderr,
  # lists and reads them back for the UI (presigned URLs are signed with this role).
  statement {
    sid       = "ListDagsterComputeLogs"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.dagster_compute_logs_prefix, "${var.dagster_compute_logs_prefix}*"]
    }
  }

  statement {
    sid = "ReadWriteDagsterComputeLogs"
    actions = [
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
      "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.bucket}/${var.dagster_compute_logs_prefix}*"]
  }

  statement {
    sid       = "LakehouseKeyViaS3"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.lakehouse_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }

  statement {
    sid       = "ReadDeidKeyAndRedisToken"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.deid_key_secret_arn, var.redis_auth_secret_arn]
  }

  statement {
    sid       = "DecryptSecretsViaSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.sm_via]
    }
  }

  statement {
    sid       = "ConnectAsDagsterDbUser"
    actions   = ["rds-db:connect"]
    resources = ["${local.dbuser_arn}/dagster"]
  }
}

# ---------------------------------------------------------------- ray-train

data "aws_iam_policy_document" "ray_train" {
  statement {
    sid       = "ListGoldAndArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.gold_prefix, "${var.gold_prefix}*", var.mlflow_artifacts_prefix, "${var.mlflow_artifacts_prefix}*"]
    }
  }

  statement {
    sid       = "ReadGold"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket}/${var.gold_prefix}*"]
  }

  statement {
    sid       = "WriteMlflowArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.bucket}/${var.mlflow_artifacts_prefix}*"]
  }

  statement {
    sid       = "LakehouseKeyViaS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.lakehouse_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

# ---------------------------------------------------------------- mlflow server

data "aws_iam_policy_document" "mlflow" {
  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.mlflow_artifacts_prefix, "${var.mlflow_artifacts_prefix}*"]
    }
  }

  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.bucket}/${var.mlflow_artifacts_prefix}*"]
  }

  statement {
    sid       = "LakehouseKeyViaS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.lakehouse_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }

  statement {
    sid       = "ConnectAsMlflowDbUser"
    actions   = ["rds-db:connect"]
    resources = ["${local.dbuser_arn}/mlflow"]
  }
}

# ---------------------------------------------------------------- bento serving

data "aws_iam_policy_document" "bento_serving" {
  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.mlflow_artifacts_prefix, "${var.mlflow_artifacts_prefix}*"]
    }
  }

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket}/${var.mlflow_artifacts_prefix}*"]
  }

  statement {
    sid       = "DecryptLakehouseViaS3"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.lakehouse_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

# ---------------------------------------------------------------- feast

data "aws_iam_policy_document" "feast" {
  statement {
    sid       = "ListGold"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.gold_prefix, "${var.gold_prefix}*"]
    }
  }

  statement {
    sid       = "ReadGold"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket}/${var.gold_prefix}*"]
  }

  statement {
    sid       = "DecryptLakehouseViaS3"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.lakehouse_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }

  statement {
    sid       = "ReadRedisToken"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.redis_auth_secret_arn]
  }

  statement {
    sid       = "DecryptSecretsViaSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.sm_via]
    }
  }

  statement {
    sid       = "ConnectAsFeastDbUser"
    actions   = ["rds-db:connect"]
    resources = ["${local.dbuser_arn}/feast"]
  }
}

locals {
  policies = {
    dagster       = data.aws_iam_policy_document.dagster.json
    ray-train     = data.aws_iam_policy_document.ray_train.json
    mlflow        = data.aws_iam_policy_document.mlflow.json
    bento-serving = data.aws_iam_policy_document.bento_serving.json
    feast         = data.aws_iam_policy_document.feast.json
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.roles

  name   = "least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}
