# The whole platform of one environment: every module wired together the same way in dev and prod.
# The envs (envs/dev, envs/prod) only set the provider, the backend and the inputs below that differ
# between them (sizes, HA, retention, NAT, EKS endpoint access, Object Lock).

data "aws_caller_identity" "current" {}

locals {
  name       = "clinical-mlops-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  trail_name = "${local.name}-trail"
  private_subnet_cidrs = [
    for i, _ in var.availability_zones : cidrsubnet(var.vpc_cidr, 4, i)
  ]
  public_subnet_cidrs = [
    for i, _ in var.availability_zones : cidrsubnet(var.vpc_cidr, 8, 240 + i)
  ]
}

module "kms" {
  source = "../kms"

  name_prefix             = local.name
  cloudtrail_name         = local.trail_name
  key_administrator_arns  = var.key_administrator_arns
  deletion_window_in_days = var.kms_deletion_window_in_days
}

module "network" {
  source = "../network"

  name                 = local.name
  vpc_cidr             = var.vpc_cidr
  availability_zones   = var.availability_zones
  private_subnet_cidrs = local.private_subnet_cidrs
  enable_nat_gateway   = var.enable_nat_gateway
  public_subnet_cidrs  = local.public_subnet_cidrs
  logs_kms_key_arn     = module.kms.key_arns["logs"]
  log_retention_days   = var.log_retention_days
}

module "audit" {
  source = "../audit"

  name                   = local.name
  trail_name             = local.trail_name
  access_log_bucket_name = "${local.name}-s3-access-logs-${local.account_id}"
  cloudtrail_bucket_name = "${local.name}-cloudtrail-${local.account_id}"
  logs_kms_key_arn       = module.kms.key_arns["logs"]
  data_event_bucket_arns = [module.lakehouse.bucket_arn]
  log_retention_days     = var.log_retention_days
}

module "lakehouse" {
  source = "../lakehouse"

  bucket_name                        = "${local.name}-lakehouse-${local.account_id}"
  kms_key_arn                        = module.kms.key_arns["lakehouse"]
  access_log_bucket_id               = module.audit.access_log_bucket_id
  noncurrent_version_expiration_days = var.lakehouse_noncurrent_version_expiration_days
  object_lock_enabled                = var.lakehouse_object_lock_enabled
  object_lock_retention_days         = var.lakehouse_object_lock_retention_days
}

module "secrets" {
  source = "../secrets"

  name_prefix             = local.name
  kms_key_arn             = module.kms.key_arns["secrets"]
  reader_role_arns        = concat([module.irsa.role_arns["dagster"]], var.deid_key_break_glass_role_arns)
  recovery_window_in_days = var.secret_recovery_window_days
}

module "eks" {
  source = "../eks"

  cluster_name            = local.name
  kubernetes_version      = "1.33"
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  endpoint_public_access  = var.eks_endpoint_public_access
  public_access_cidrs     = var.eks_public_access_cidrs
  secrets_kms_key_arn     = module.kms.key_arns["eks"]
  ebs_kms_key_arn         = module.kms.key_arns["eks"]
  logs_kms_key_arn        = module.kms.key_arns["logs"]
  cluster_admin_role_arns = var.cluster_admin_role_arns

  cpu_node_group = {
    instance_types = var.cpu_instance_types
    min_size       = var.cpu_nodes.min_size
    max_size       = var.cpu_nodes.max_size
    desired_size   = var.cpu_nodes.desired_size
    disk_size_gib  = var.cpu_nodes.disk_size_gib
  }

  gpu_node_group = {
    instance_types = var.gpu_instance_types
    min_size       = 0
    max_size       = var.gpu_max_nodes
    desired_size   = 0
    disk_size_gib  = var.gpu_disk_size_gib
  }
}

module "rds" {
  source = "../rds"

  identifier              = "${local.name}-postgres"
  instance_class          = var.rds_instance_class
  allocated_storage       = var.rds_allocated_storage
  max_allocated_storage   = var.rds_max_allocated_storage
  multi_az                = var.rds_multi_az
  backup_retention_period = var.rds_backup_retention_period
  monitoring_interval     = var.rds_monitoring_interval

  performance_insights_retention_period = var.rds_performance_insights_retention_period
  deletion_protection                   = var.rds_deletion_protection
  kms_key_arn                           = module.kms.key_arns["rds"]
  logs_kms_key_arn                      = module.kms.key_arns["logs"]
  vpc_id                                = module.network.vpc_id
  subnet_ids                            = module.network.private_subnet_ids
  allowed_security_groups               = { eks_cluster = module.eks.cluster_security_group_id }
}

module "redis" {
  source = "../redis"

  replication_group_id        = "${local.name}-feast"
  node_type                   = var.redis_node_type
  num_cache_clusters          = var.redis_num_cache_clusters
  snapshot_retention_limit    = var.redis_snapshot_retention_limit
  kms_key_arn                 = module.kms.key_arns["secrets"]
  logs_kms_key_arn            = module.kms.key_arns["logs"]
  vpc_id                      = module.network.vpc_id
  subnet_ids                  = module.network.private_subnet_ids
  allowed_security_groups     = { eks_cluster = module.eks.cluster_security_group_id }
  secret_recovery_window_days = var.secret_recovery_window_days
}

# One repository per image the Kubernetes manifests pull (clinical-mlops/<env>/<image>), same settings each.
module "ecr" {
  source   = "../ecr"
  for_each = toset(["pipeline", "ray", "mlflow", "bento-serving"])

  repository_name = "clinical-mlops/${var.environment}/${each.key}"
  kms_key_arn     = module.kms.key_arns["ecr"]
}

module "efs" {
  source = "../efs"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  allowed_security_group_id = module.eks.cluster_security_group_id
  kms_key_arn               = module.kms.key_arns["efs"]
  cluster_name              = module.eks.cluster_name_after_nodes
  oidc_provider_arn         = module.eks.oidc_provider_arn
  oidc_issuer_host          = module.eks.oidc_issuer_host
}

module "irsa" {
  source = "../irsa"

  name_prefix           = local.name
  oidc_provider_arn     = module.eks.oidc_provider_arn
  oidc_issuer_host      = module.eks.oidc_issuer_host
  namespace             = "clinical-mlops"
  lakehouse_bucket_arn  = module.lakehouse.bucket_arn
  lakehouse_kms_key_arn = module.kms.key_arns["lakehouse"]
  secrets_kms_key_arn   = module.kms.key_arns["secrets"]
  deid_key_secret_arn   = module.secrets.deid_key_secret_arn
  redis_auth_secret_arn = module.redis.auth_secret_arn
  rds_resource_id       = module.rds.resource_id
}
