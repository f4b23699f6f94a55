# Shared lakehouse file system (CLINICAL_MLOPS_HOME: Delta tables with PHI, Feast registry, Ray checkpoints,
# Bentos), mounted ReadWriteMany by the Dagster run pods, the code server, the Ray pods and the model server
# through the EFS CSI driver:
#
#   - encrypted at rest with a customer-managed key; lifecycle to Infrequent Access; AWS Backup (backup policy)
#   - one mount target per private subnet, behind a security group that allows NFS 2049 only from the
#     EKS cluster security group (attached to every managed node; the CSI node plugin mounts from the node)
#   - one access point that pins every client to uid/gid 10001 (the manifests' runAsUser/runAsGroup) and to
#     its root directory, so no client sees the file system root or acts as root
#   - a file-system policy that denies any non-TLS access and allows mount/write only to the EFS CSI
#     driver's IRSA role, only through the access point and a mount target (mounts must use `tls,iam`)
#   - the aws-efs-csi-driver add-on, its service accounts on a least-privilege IRSA role

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # The add-on annotates both of its service accounts with the role: the controller (provisioning) and the
  # node plugin (runs the IAM-authorised `mount -o tls,iam` on the node).
  csi_service_accounts = ["efs-csi-controller-sa", "efs-csi-node-sa"]
}

resource "aws_efs_file_system" "this" {
  creation_token   = "${var.name}-lakehouse"
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  lifecycle_policy {
    transition_to_ia = var.transition_to_ia
  }

  lifecycle_policy {
    transition_to_primary_storage_class = "AFTER_1_ACCESS"
  }

  protection {
    replication_overwrite = "DISABLED"
  }

  tags = { Name = "${var.name}-lakehouse" }
}

resource "aws_efs_backup_policy" "this" {
  file_system_id = aws_efs_file_system.this.id

  backup_policy {
    status = "ENABLED"
  }
}

# ---------------------------------------------------------------- network

resource "aws_security_group" "this" {
  name        = "${var.name}-efs"
  description = "EFS ${var.name}-lakehouse: NFS 2049 from the EKS nodes only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-efs" }
}

resource "aws_vpc_security_group_ingress_rule" "nfs" {
  security_group_id            = aws_security_group.this.id
  description                  = "NFS (TLS via efs-utils) from the EKS cluster security group"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.allowed_security_group_id
}

resource "aws_efs_mount_target" "this" {
  count = length(var.subnet_ids)

  file_system_id  = aws_efs_file_system.this.id
  subnet_id       = var.subnet_ids[count.index]
  security_groups = [aws_security_group.this.id]
}

# ---------------------------------------------------------------- access point

resource "aws_efs_access_point" "this" {
  file_system_id = aws_efs_file_system.this.id

  posix_user {
    uid = var.posix_uid
    gid = var.posix_gid
  }

  root_directory {
    path = var.root_directory

    creation_info {
      owner_uid   = var.posix_uid
      owner_gid   = var.posix_gid
      permissions = "0750"
    }
  }

  tags = { Name = "${var.name}-lakehouse" }
}

# ---------------------------------------------------------------- EFS CSI driver (IRSA + add-on)

data "aws_iam_policy_document" "csi_assume" {
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
      values   = [for sa in local.csi_service_accounts : "system:serviceaccount:kube-system:${sa}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "csi" {
  name                 = "${var.name}-efs-csi"
  description          = "IRSA for kube-system/efs-csi-controller-sa and efs-csi-node-sa (aws-efs-csi-driver)"
  assume_role_policy   = data.aws_iam_policy_document.csi_assume.json
  max_session_duration = 3600
}

# Scoped instead of the managed AmazonEFSCSIDriverPolicy (which allows CreateAccessPoint/DeleteAccessPoint on
# any file system): the volume is statically provisioned on the access point above, so the driver only needs
# to describe this file system and mount it, through that access point.
data "aws_iam_policy_document" "csi" {
  statement {
    sid = "DescribeLakehouseFileSystem"
    actions = [
      "elasticfilesystem:DescribeFileSystems",
      "elasticfilesystem:DescribeMountTargets",
      "elasticfilesystem:DescribeAccessPoints",
    ]
    resources = [aws_efs_file_system.this.arn, aws_efs_access_point.this.arn]
  }

  statement {
    sid       = "MountThroughAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.this.arn]

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.this.arn]
    }
  }
}

resource "aws_iam_role_policy" "csi" {
  name   = "least-privilege"
  role   = aws_iam_role.csi.id
  policy = data.aws_iam_policy_document.csi.json
}

resource "aws_eks_addon" "efs_csi" {
  cluster_name                = var.cluster_name
  addon_name                  = "aws-efs-csi-driver"
  addon_version               = var.addon_version
  service_account_role_arn    = aws_iam_role.csi.arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"

  depends_on = [aws_iam_role_policy.csi, aws_efs_mount_target.this]
}

# ---------------------------------------------------------------- file-system policy

data "aws_iam_policy_document" "file_system" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "AllowCsiDriverThroughAccessPoint"
    effect    = "Allow"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.csi.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.this.arn]
    }

    condition {
      test     = "Bool"
      variable = "elasticfilesystem:AccessedViaMountTarget"
      values   = ["true"]
    }
  }
}

resource "aws_efs_file_system_policy" "this" {
  file_system_id = aws_efs_file_system.this.id
  policy         = data.aws_iam_policy_document.file_system.json
}
