terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # Partial configuration: bucket, key, region, dynamodb_table/use_lockfile, kms_key_id and encrypt
  # are passed with `terraform init -backend-config=backend.hcl` (see README). CI validates with
  # -backend=false and never touches the state bucket.
  backend "s3" {}
}

provider "aws" {
  region              = var.region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project            = "clinical-mlops"
      Environment        = local.environment
      DataClassification = "PHI"
      ManagedBy          = "terraform"
    }
  }
}
