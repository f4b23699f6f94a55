# Development environment: same modules and controls as prod (modules/platform), smaller and single-AZ
# where HA only buys availability (RDS, Redis), no NAT gateway (VPC endpoints only). Synthetic data only.

locals {
  environment = "dev"
}

module "platform" {
  source = "../../modules/platform"

  environment        = local.environment
  availability_zones = var.availability_zones
  vpc_cidr           = var.vpc_cidr
  enable_nat_gateway = var.enable_nat_gateway
  log_retention_days = 365

  kms_deletion_window_in_days    = 7
  key_administrator_arns         = var.key_administrator_arns
  secret_recovery_window_days    = 7
  deid_key_break_glass_role_arns = var.deid_key_break_glass_role_arns

  lakehouse_noncurrent_version_expiration_days = 30
  lakehouse_object_lock_enabled                = false

  cluster_admin_role_arns    = var.cluster_admin_role_arns
  eks_endpoint_public_access = length(var.eks_public_access_cidrs) > 0
  eks_public_access_cidrs    = var.eks_public_access_cidrs
  cpu_instance_types         = var.cpu_instance_types
  cpu_nodes                  = { min_size = 1, max_size = 4, desired_size = 2, disk_size_gib = 100 }
  gpu_instance_types         = var.gpu_instance_types
  gpu_max_nodes              = var.gpu_max_nodes
  gpu_disk_size_gib          = 200

  rds_instance_class          = var.rds_instance_class
  rds_allocated_storage       = 20
  rds_max_allocated_storage   = 100
  rds_multi_az                = false
  rds_backup_retention_period = 7
  rds_deletion_protection     = true

  redis_node_type                = var.redis_node_type
  redis_num_cache_clusters       = 1
  redis_snapshot_retention_limit = 1
}
