# Development environment: same modules and controls as prod, smaller and single-AZ where HA only
# buys availability (RDS, Redis), no NAT gateway (VPC endpoints only). Synthetic data only.

data "aws_caller_identity" "current" {}

locals {
  environment = "dev"
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
  deletion_window_in_days = 7
}

module "network" {
  source = "../../modules/network"

  name                 = local.name
  vpc_cidr             = var.vpc_cidr
  availability_zones   = var.availability_zones
  private_subnet_cidrs = local.private_subnet_cidrs
  enable_nat_gateway   = var.enable_nat_gateway
  public_subnet_cidrs  = local.public_subnet_cidrs
  logs_kms_key_arn     = module.kms.key_arns["logs"]
  log_retention_days   = 365
}

module "audit" {
  source = "../../modules/audit"

  name                   = local.name
  trail_name             = local.trail_name
  access_log_bucket_name = "${local.name}-s3-access-logs-${local.account_id}"
  cloudtrail_bucket_name = "${local.name}-cloudtrail-${local.account_id}"
  logs_kms_key_arn       = module.kms.key_arns["logs"]
  data_event_bucket_arns = [module.lakehouse.bucket_arn]
  log_retention_days     = 365
}

module "lakehouse" {
  source = "../../modules/lakehouse"

  bucket_name                        = "${local.name}-lakehouse-${local.account_id}"
  kms_key_arn                        = module.kms.key_arns["lakehouse"]
  access_log_bucket_id               = module.audit.access_log_bucket_id
  noncurrent_version_expiration_days = 30
  object_lock_enabled                = false
}

module "secrets" {
  source = "../../modules/secrets"

  name_prefix             = local.name
  kms_key_arn             = module.kms.key_arns["secrets"]
  reader_role_arns        = concat([module.irsa.role_arns["dagster"]], var.deid_key_break_glass_role_arns)
  recovery_window_in_days = 7
}

module "eks" {
  source = "../../modules/eks"

  cluster_name            = local.name
  kubernetes_version      = "1.33"
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  endpoint_public_access  = length(var.eks_public_access_cidrs) > 0
  public_access_cidrs     = var.eks_public_access_cidrs
  secrets_kms_key_arn     = module.kms.key_arns["eks"]
  ebs_kms_key_arn         = module.kms.key_arns["eks"]
  logs_kms_key_arn        = module.kms.key_arns["logs"]
  cluster_admin_role_arns = var.cluster_admin_role_arns

  cpu_node_group = {
    instance_types = var.cpu_instance_types
    min_size       = 1
    max_size       = 4
    desired_size   = 2
    disk_size_gib  = 100
  }

  gpu_node_group = {
    instance_types = var.gpu_instance_types
    min_size       = 0
    max_size       = var.gpu_max_nodes
    desired_size   = 0
    disk_size_gib  = 200
  }
}

module "rds" {
  source = "../../modules/rds"

  identifier              = "${local.name}-postgres"
  instance_class          = var.rds_instance_class
  allocated_storage       = 20
  max_allocated_storage   = 100
  multi_az                = false
  backup_retention_period = 7
  deletion_protection     = true
  kms_key_arn             = module.kms.key_arns["rds"]
  logs_kms_key_arn        = module.kms.key_arns["logs"]
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  allowed_security_groups = { eks_cluster = module.eks.cluster_security_group_id }
}

module "redis" {
  source = "../../modules/redis"

  replication_group_id        = "${local.name}-feast"
  node_type                   = var.redis_node_type
  num_cache_clusters          = 1
  snapshot_retention_limit    = 1
  kms_key_arn                 = module.kms.key_arns["secrets"]
  logs_kms_key_arn            = module.kms.key_arns["logs"]
  vpc_id                      = module.network.vpc_id
  subnet_ids                  = module.network.private_subnet_ids
  allowed_security_groups     = { eks_cluster = module.eks.cluster_security_group_id }
  secret_recovery_window_days = 7
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
