# Customer-managed KMS keys, one per data domain, each with rotation and an explicit key policy.
#
#   lakehouse - SSE-KMS for the lakehouse bucket (PHI: landing/bronze/silver/gold, MLflow artifacts)
#   rds       - RDS storage, Performance Insights and the RDS-managed master secret
#   secrets   - ElastiCache at-rest encryption and Secrets Manager (de-identification key, Redis AUTH token)
#   logs      - CloudWatch Logs groups, CloudTrail files and its SNS topic
#   eks       - Kubernetes secrets envelope encryption and node EBS volumes
#   ecr       - image repositories (pipeline, ray, mlflow, bento-serving)
#   efs       - the shared lakehouse file system (CLINICAL_MLOPS_HOME, PHI)

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  trail_arn  = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${var.cloudtrail_name}"

  keys = {
    lakehouse = "Lakehouse S3 bucket (PHI) SSE-KMS"
    rds       = "RDS PostgreSQL storage, Performance Insights and master secret"
    secrets   = "ElastiCache Redis at rest and Secrets Manager secrets"
    logs      = "CloudWatch Logs, CloudTrail and audit SNS topic"
    eks       = "EKS secrets envelope encryption and node EBS volumes"
    ecr       = "ECR repositories for the platform images"
    efs       = "EFS lakehouse file system (PHI)"
  }
}

# Statements shared by every key: the account root delegation (the AWS default key policy statement,
# which lets IAM policies grant use of the key and keeps the key manageable) plus optional key admins.
data "aws_iam_policy_document" "base" {
  #checkov:skip=CKV_AWS_109:Key policy - Resource "*" means "this key"; root delegation is the AWS-required default statement that keeps the key manageable.
  #checkov:skip=CKV_AWS_111:Key policy - Resource "*" means "this key"; write access is delegated to IAM policies, which are least-privilege per role.
  #checkov:skip=CKV_AWS_356:Key policy - a key policy can only name the key itself as Resource "*".
  statement {
    sid       = "EnableIamPoliciesViaAccountRoot"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(var.key_administrator_arns) > 0 ? [1] : []
    content {
      sid    = "KeyAdministrators"
      effect = "Allow"
      actions = [
        "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
        "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
      ]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.key_administrator_arns
      }
    }
  }
}

# CloudWatch Logs, CloudTrail and SNS (CloudTrail notifications) use the logs key.
data "aws_iam_policy_document" "logs" {
  source_policy_documents = [data.aws_iam_policy_document.base.json]

  statement {
    sid       = "CloudWatchLogsInThisAccount"
    effect    = "Allow"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "CloudTrailEncryptLogs"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudTrailDescribeKey"
    effect    = "Allow"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudTrailPublishToEncryptedSnsTopic"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

# Node EBS volumes are launched by the EC2 Auto Scaling service-linked role on behalf of EKS managed
# node groups, so it needs to use the eks key (AWS-documented requirement for CMK-encrypted volumes).
data "aws_iam_policy_document" "eks" {
  #checkov:skip=CKV_AWS_111:Key policy - Resource "*" means "this key"; the only extra principal is the Auto Scaling service-linked role.
  #checkov:skip=CKV_AWS_356:Key policy - a key policy can only name the key itself as Resource "*".
  source_policy_documents = [data.aws_iam_policy_document.base.json]

  statement {
    sid       = "AutoScalingUseForNodeVolumes"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
  }

  statement {
    sid       = "AutoScalingGrantsForNodeVolumes"
    effect    = "Allow"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

locals {
  policies = {
    lakehouse = data.aws_iam_policy_document.base.json
    rds       = data.aws_iam_policy_document.base.json
    secrets   = data.aws_iam_policy_document.base.json
    logs      = data.aws_iam_policy_document.logs.json
    eks       = data.aws_iam_policy_document.eks.json
    ecr       = data.aws_iam_policy_document.base.json
    efs       = data.aws_iam_policy_document.base.json
  }
}

resource "aws_kms_key" "this" {
  for_each = local.keys

  description             = "${var.name_prefix}: ${each.value}"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  is_enabled              = true
  multi_region            = false
  policy                  = local.policies[each.key]

  tags = {
    Name    = "${var.name_prefix}-${each.key}"
    Purpose = each.value
  }
}

resource "aws_kms_alias" "this" {
  for_each = local.keys

  name          = "alias/${var.name_prefix}/${each.key}"
  target_key_id = aws_kms_key.this[each.key].key_id
}
