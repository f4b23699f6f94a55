# Production environment (PHI): three AZs, NAT egress, Multi-AZ RDS with 35-day backups, a 3-node
# Redis replication group with automatic failover, private-only EKS API, longer retention everywhere.

data "aws_caller_identity" "current" {}

locals {
  environment = "prod"
  name        = "clinical-mlops-${local.environment}"
  account_id  = data.aws_caller_identity.current.account_id
  trail_name  = "${local.name}-trail"
  private_subnet_cidrs = [
    for i, _ in var.availability_zones : cidrsubnet(var.vpc_cidr, 4, i)
  ]
  public_subnet_cidrs = [
    for i, _ in var.availability_zones : cidrsubnet(var.vpc_cidr, 8, 240 + i)
  ]
}

module "kms" {
  source = "../../modules/kms"

  name_prefix             = local.name
  cloudtrail_name         = local.trail_name
  key_administrator_arns  = var.key_administrator_arns
  deletion_window_in_days = 30
}

module "network" {
  source = "../../modules/network"

  name                 = local.name
  vpc_cidr             = var.vpc_cidr
  availability_zones   = var.availability_zones
  private_subnet_cidrs = local.private_subnet_cidrs
  enable_nat_gateway   = true
  public_subnet_cidrs  = local.public_subnet_cidrs
  logs_kms_key_arn     = module.kms.key_arns["logs"]
  log_retention_days   = 731
}

module "audit" {
  source = "../../modules/audit"

  name                   = local.name
  trail_name             = local.trail_name
  access_log_bucket_name = "${local.name}-s3-access-logs-${local.account_id}"
  cloudtrail_bucket_name = "${local.name}-cloudtrail-${local.account_id}"
  logs_kms_key_arn       = module.kms.key_arns["logs"]
  data_event_bucket_arns = [module.lakehouse.bucket_arn]
  log_retention_days     = 731
}

module "lakehouse" {
  source = "../../modules/lakehouse"

  bucket_name                        = "${local.name}-lakehouse-${local.account_id}"
  kms_key_arn                        = module.kms.key_arns["lakehouse"]
  access_log_bucket_id               = module.audit.access_log_bucket_id
  noncurrent_version_expiration_days = 90
  object_lock_enabled                = true
  object_lock_retention_days         = 30
}

module "secrets" {
  source = "../../modules/secrets"

  name_prefix             = local.name
  kms_key_arn             = module.kms.key_arns["secrets"]
  reader_role_arns        = concat([module.irsa.role_arns["dagster"]], var.deid_key_break_glass_role_arns)
  recovery_window_in_days = 30
}

module "eks" {
  source = "../../modules/eks"

  cluster_name            = local.name
  kubernetes_version      = "1.33"
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  endpoint_public_access  = false
  secrets_kms_key_arn     = module.kms.key_arns["eks"]
  ebs_kms_key_arn         = module.kms.key_arns["eks"]
  logs_kms_key_arn        = module.kms.key_arns["logs"]
  cluster_admin_role_arns = var.cluster_admin_role_arns

  cpu_node_group = {
    instance_types = var.cpu_instance_types
    min_size       = 3
    max_size       = 12
    desired_size   = 3
    disk_size_gib  = 200
  }

  gpu_node_group = {
    instance_types = var.gpu_instance_types
    min_size       = 0
    max_size       = var.gpu_max_nodes
    desired_size   = 0
    disk_size_gib  = 500
  }
}

module "rds" {
  source = "../../modules/rds"

  identifier              = "${local.name}-postgres"
  instance_class          = var.rds_instance_class
  allocated_storage       = 100
  max_allocated_storage   = 1000
  multi_az                = true
  backup_retention_period = 35
  monitoring_interval     = 15

  performance_insights_retention_period = 731
  deletion_protection                   = true
  kms_key_arn                           = module.kms.key_arns["rds"]
  logs_kms_key_arn                      = module.kms.key_arns["logs"]
  vpc_id                                = module.network.vpc_id
  subnet_ids                            = module.network.private_subnet_ids
  allowed_security_groups               = { eks_cluster = module.eks.cluster_security_group_id }
}

module "redis" {
  source = "../../modules/redis"

  replication_group_id        = "${local.name}-feast"
  node_type                   = var.redis_node_type
  num_cache_clusters          = 3
  snapshot_retention_limit    = 14
  kms_key_arn                 = module.kms.key_arns["secrets"]
  logs_kms_key_arn            = module.kms.key_arns["logs"]
  vpc_id                      = module.network.vpc_id
  subnet_ids                  = module.network.private_subnet_ids
  allowed_security_groups     = { eks_cluster = module.eks.cluster_security_group_id }
  secret_recovery_window_days = 30
}

# One repository per image the Kubernetes manifests pull (clinical-mlops/<env>/<image>), same settings each.
module "ecr" {
  source   = "../../modules/ecr"
  for_each = toset(["pipeline", "ray", "mlflow", "bento-serving"])

  repository_name = "clinical-mlops/${local.environment}/${each.key}"
  kms_key_arn     = module.kms.key_arns["ecr"]
}

# The Bento repository existed before the module was instantiated per image: keep it, do not recreate it.
moved {
  from = module.ecr
  to   = module.ecr["bento-serving"]
}

module "efs" {
  source = "../../modules/efs"

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
  source = "../../modules/irsa"

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
